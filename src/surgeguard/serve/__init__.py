"""surgeguard.serve"""
