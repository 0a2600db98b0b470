"""generated/jax"""
