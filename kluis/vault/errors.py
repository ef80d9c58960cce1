class VaultError(Exception):
    """Base of every refusal the vault raises."""


class RevealRefused(VaultError):
    """A reveal that the policy does not allow: wrong purpose, category or actor."""


class KeyShredded(VaultError):
    """The data key that sealed a value has been destroyed; the value is gone for good."""


class MasterKeyError(VaultError):
    """The master key is missing, malformed, or does not open the keystore."""
