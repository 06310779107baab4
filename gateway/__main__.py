import uvicorn

from gateway.app import create_app
from gateway.settings import GatewaySettings
from shared.config import load_settings

if __name__ == "__main__":
    settings = load_settings(GatewaySettings)
    uvicorn.run(
        create_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
    )
