"""generated/torch"""
