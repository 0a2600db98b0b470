"""compiler/render"""
