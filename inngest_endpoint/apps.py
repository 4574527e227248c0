from django.apps import AppConfig


class InngestEndpointConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "inngest_endpoint"
    verbose_name = "Inngest endpoint"
