from notification_service.bootstrap import Settings, setup
from shared.config import load_settings
from shared.service import main

if __name__ == "__main__":
    main(load_settings(Settings), "notification", setup)
