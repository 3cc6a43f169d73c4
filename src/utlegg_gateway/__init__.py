"""utlegg-gateway: legacy file drops in, ELAN utleggsbegjæringer out."""

from utlegg_gateway.errors import GatewayError

__version__ = "0.1.0"

__all__ = ["GatewayError", "__version__"]
