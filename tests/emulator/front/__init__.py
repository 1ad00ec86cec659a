"""The front door: every request to the emulated cloud passes the gateway, which checks its SigV4 signature,
evaluates IAM for the authorizations the operation needs and applies EC2's throttling before moto sees it."""
