"""surgeguard.scenario"""
