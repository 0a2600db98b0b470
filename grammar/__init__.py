"""The Lark grammar of the spec language."""
