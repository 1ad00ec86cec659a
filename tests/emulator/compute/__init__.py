"""Compute: EC2 instances and the ECS agent on them (which moto does not have), the tasks they run, each task's
container (a mount namespace), and the task-credentials and instance metadata endpoints."""
