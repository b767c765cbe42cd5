"""Orders: create (stock taken), queries, lifecycle (cancel, close, ship, confirm),
payments (WeChat Pay notify) and refunds."""
