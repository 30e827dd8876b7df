"""surgeguard.evaluate"""
