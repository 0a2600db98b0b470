"""compiler/equiv"""
