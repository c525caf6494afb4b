from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "spanscope_testapp"
    label = "inventory"
    default_auto_field = "django.db.models.AutoField"
