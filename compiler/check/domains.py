"""Placeholder replaced by the domain-safety checker."""


def domain_warnings(program):
    return []
