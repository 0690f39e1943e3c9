"""The Python SDK: build, sign and submit transactions, wait for finality, check proofs."""

from govchain.sdk.client import Client, SdkError

__all__ = ["Client", "SdkError"]
