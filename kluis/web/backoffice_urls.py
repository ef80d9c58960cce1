from django.urls import path

from kluis.web import backoffice_views as views

app_name = "web_backoffice"
urlpatterns = [
    path("vragen/", views.questions, name="questions"),
    path("vragen/<uuid:question_id>/", views.question, name="question"),
    path("vragen/<uuid:question_id>/inzien/", views.question_reveal, name="question-reveal"),
    path("vragen/<uuid:question_id>/antwoorden/", views.question_answer, name="question-answer"),
    path("vragen/<uuid:question_id>/sluiten/", views.question_close, name="question-close"),
    path("statistieken/", views.statistics, name="statistics"),
]
