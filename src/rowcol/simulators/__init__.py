"""Local stand-ins for the rails' HTTP APIs, for tests and the demo.

Outside the hexagon: nothing in core, ports or adapters imports this package.
"""
