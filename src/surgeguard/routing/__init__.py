"""surgeguard.routing"""
