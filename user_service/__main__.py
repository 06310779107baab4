from shared.config import load_settings
from shared.service import main
from user_service.bootstrap import Settings, setup

if __name__ == "__main__":
    main(load_settings(Settings), "user", setup)
