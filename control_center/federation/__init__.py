"""Links between centers: the central one and the provinces' (docs/federation.md)."""
