"""entra."""
