"""Effectiveness of grassroots information for a unit and a period, rolled up the tree."""
