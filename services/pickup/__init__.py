"""A pickup point's day (社区团购): tickets and codes at payment, cutoff, the order summary and
pick list, arrival, pickup verification (核销) and shortage reports (报损)."""
