"""Entry points: HTTP routers, the websocket stream and the Kafka fan-out consumer."""
