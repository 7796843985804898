"""Presentation: the messages the bot sends and the console prints are built here (error texts raised by checks
stay with the check that raises them).

One module per kind of message, each building its Discord form and its console form from the same wording:

    limits      Discord's limits, cleaning/escaping/truncating untrusted text, allowed_mentions, http(s) links
    message     a message as plain data (lines of spans) and its two renderings: Discord markdown, console text
    stories     one story: embed, forum title, console text; living posts (heat marker, "Also covered by")
    lists       the lookups: /topic, /topics, /search, /trending, /related
    summaries   several alerts in one message (quiet hours, catch-up after a pause, roll-up)
    digests     a digest and the /digest replies
    alerts      the /alerts replies (add, list, remove, pause, resume, quiet, preview, log)
    admin_log   the alerts log channel's messages
    why         /why
    config      what an alerts import changes
    roles       the /roles replies and panel
    refusals    the bot refusing a command for want of its own permissions in a channel
    heat        /heat: the PNG chart (matplotlib, imported on first use), its text, the sparkline

Callers import from the module that owns the message. The names below are the story basics most messages
share, re-exported so that `from bot.render import story_embed, NO_MENTIONS` keeps working.
"""

from bot.render.limits import (
    AUTHOR_LIMIT,
    DESCRIPTION_LIMIT,
    EMBEDS_PER_MESSAGE,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    FOOTER_LIMIT,
    FORUM_TITLE_LIMIT,
    MESSAGE_CONTENT_LIMIT,
    MESSAGE_EMBED_CHARS,
    NO_MENTIONS,
    TITLE_LIMIT,
    clean_text,
    escape,
    fit,
    masked_link,
    masked_link_url,
    role_mentions,
    truncate,
)
from bot.render.stories import (
    LivingPost,
    forum_title,
    heat_label,
    living_embed,
    living_text,
    provider_label,
    stories_embeds,
    story_embed,
    story_text,
)

__all__ = [
    "AUTHOR_LIMIT",
    "DESCRIPTION_LIMIT",
    "EMBEDS_PER_MESSAGE",
    "FIELD_NAME_LIMIT",
    "FIELD_VALUE_LIMIT",
    "FOOTER_LIMIT",
    "FORUM_TITLE_LIMIT",
    "MESSAGE_CONTENT_LIMIT",
    "MESSAGE_EMBED_CHARS",
    "NO_MENTIONS",
    "TITLE_LIMIT",
    "LivingPost",
    "clean_text",
    "escape",
    "fit",
    "forum_title",
    "heat_label",
    "living_embed",
    "living_text",
    "masked_link",
    "masked_link_url",
    "provider_label",
    "role_mentions",
    "stories_embeds",
    "story_embed",
    "story_text",
    "truncate",
]
