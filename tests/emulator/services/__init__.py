"""Services moto lacks or gets wrong: Lambda (the real handler binaries, under their limits), the Distributed Map,
prices (the Pricing API and spot price history), and which EventBridge targets may receive a rule's events."""
