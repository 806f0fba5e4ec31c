"""The SUBS service: subscription (RHEL) extraction and messages."""
