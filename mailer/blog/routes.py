from flask import Blueprint, abort, current_app, render_template, request, send_from_directory

from mailer import caching, page_cache
from mailer.blog import services

bp = Blueprint("blog", __name__)

# Stored images never change (a new upload gets a new random name).
IMAGE_MAX_AGE = 30 * 24 * 3600
# The list's view counts may lag this much for visitors; a post's change shows at once.
BLOG_LIST_SECONDS = 60
# A rendered body is keyed by the text it was made from, so it may be kept long.
ARTICLE_BODY_SECONDS = 24 * 3600


@bp.route("/blog/")
@page_cache.for_visitors("blog", BLOG_LIST_SECONDS, args=("page",))
def index():
    page = services.published_posts_page(request.args.get("page", 1, type=int))
    return render_template("blog/index.html", page=page)


@bp.route("/blog/<int:post_id>")
def show(post_id: int):
    views = services.record_view(post_id)
    if views is None:
        abort(404)
    post = services.published_post(post_id)
    if post is None:  # unpublished between the two statements
        abort(404)
    body = caching.remember(caching.article_body_key(post.id, post.body or ""), ARTICLE_BODY_SECONDS,
                            lambda: services.article_body_html(post))
    return render_template("blog/show.html", post=post, views=views, body=body)


@bp.route("/uploads/<path:filename>")
def image(filename: str):
    # send_from_directory refuses any name that leaves the folder (404).
    return send_from_directory(current_app.config["UPLOAD_FOLDER"], filename, max_age=IMAGE_MAX_AGE)
