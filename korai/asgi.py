"""The ASGI entry point that production servers load (`uvicorn korai.asgi:application`); see
korai/startup.py for how it differs from `manage.py`."""

from django.core.asgi import get_asgi_application

from korai.startup import production_application

application = production_application(get_asgi_application)
