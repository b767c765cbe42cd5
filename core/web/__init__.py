"""HTTP plumbing every edge shares: app keys, request context and error mapping, body and
query parsing, the route registrar with its auth declaration, metrics."""
