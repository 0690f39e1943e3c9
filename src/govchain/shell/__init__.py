"""The one shell that drives a replica, run by the node and by the simulator alike."""
