"""Three pages: the counter, a cached view, and a health check."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.counter, name="counter"),
    path("cached/", views.cached, name="cached"),
    path("health/", views.health, name="health"),
]
