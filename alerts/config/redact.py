"""Secrets out of sight in config files: what export shows instead of a stored secret, and how a
masked value coming back (an exported file re-applied) keeps the stored one, at the same
destination only. The masking itself is alerts/secrets.py's, the one every face uses.

${VAR} references are shown as written: they name a secret, they are not one.
"""

from ..secrets import MASK, holds_mask, mask_config, mask_url, restore_config, restore_url

__all__ = ["MASK", "holds_mask", "mask_config", "mask_datasource_url", "restore_url", "unmask_config"]

mask_datasource_url = mask_url


def unmask_config(kind: str, incoming: dict, stored: dict | None) -> tuple[dict, list[tuple[str, str]]]:
    """Put stored secrets back where `incoming` holds their mask; (config, [(key, problem)])."""
    return restore_config(kind, incoming, stored)
