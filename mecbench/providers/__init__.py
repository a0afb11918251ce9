"""Response providers: anything that yields model rate maps on an arena's bin grid."""

from mecbench.providers.base import ResponseProvider, check_provider_output

__all__ = ["ResponseProvider", "check_provider_output"]
