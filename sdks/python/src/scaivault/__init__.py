"""ScaiVault's Python SDK."""
