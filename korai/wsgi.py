"""The WSGI entry point that production servers load (`gunicorn korai.wsgi`); see
korai/startup.py for how it differs from `manage.py`."""

from django.core.wsgi import get_wsgi_application

from korai.startup import production_application

application = production_application(get_wsgi_application)
