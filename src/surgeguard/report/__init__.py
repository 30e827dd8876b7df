"""surgeguard.report"""
