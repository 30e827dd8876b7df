"""surgeguard.io"""
