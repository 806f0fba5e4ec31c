"""The HCS service: Hybrid Committed Spend extracts."""
