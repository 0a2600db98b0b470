"""backends/reference"""
