"""Local stand-ins for the platform: the load balancer in front of several origin instances."""
