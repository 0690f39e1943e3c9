"""The web explorer: server-rendered pages over the node's own API, in Chinese and English."""
