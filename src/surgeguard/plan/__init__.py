"""surgeguard.plan"""
