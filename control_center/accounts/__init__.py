"""Operators' accounts: argon2id passwords, roles bound to a unit subtree, expiring sessions."""
