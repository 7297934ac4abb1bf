"""Letters as our users really write them, for sending through every real server the suite runs.

Each entry is a subject and a body (message templates, with placeholders) and the
clients it goes to. Sizes and shapes come from what small businesses send:
newsletters of tens of kB, Cyrillic, emoji, pasted links, tables typed with
pipes, lines that start with a dot or "From ", long names with patronymics.
"""
from __future__ import annotations

from dataclasses import dataclass

NAME = "{{ client.full_name }}"


@dataclass(frozen=True)
class CorpusLetter:
    key: str
    subject: str
    body: str
    clients: tuple[tuple[str, str], ...] = (
        ("anna@example.com", "Анна Петрова"), ("bob@example.org", "Bob O'Neil"), ("kim@example.net", ""))


def _newsletter_50kb() -> str:
    section = (
        f"## Новости недели\n\n![Баннер](https://cdn.example.com/img/banner-spring-2027.png)\n\n"
        f"Здравствуйте, {NAME}! На этой неделе мы открыли новый зал, провели мастер-класс по "
        "выпечке и подготовили для вас подборку сезонных предложений. Скидки действуют до конца "
        "месяца во всех наших магазинах и в интернет-магазине.\n\n"
        "- Пирог с яблоками — 350 ₽\n- Кофе навынос — 120 ₽\n- Набор печенья «Ассорти» — 490 ₽\n\n"
        "[Все предложения](https://shop.example.com/offers?utm_source=mailer&utm_medium=email"
        "&utm_campaign=spring-2027&utm_content=button)\n\n"
    )
    return "".join(section for _ in range(50_000 // len(section.encode()) + 1))


def _table() -> str:
    header = "| Товар | Цена, ₽ | Скидка | Итог, ₽ | Примечание |"
    rule = "|---|---:|---:|---:|---|"
    rows = [f"| Позиция номер {n} с длинным названием | {n * 100} | {n % 5 * 5} % | {n * 95} | "
            f"доставка в течение {n % 7 + 1} дней |" for n in range(1, 41)]
    return f"{NAME}, вот прайс на неделю:\n\n" + "\n".join([header, rule, *rows])


def _lists() -> str:
    numbered = "\n".join(f"{n}. Шаг {n}: сделайте то, что нужно сделать на шаге {n}" for n in range(1, 16))
    nested = "\n".join(f"- Раздел {n}\n  - Пункт {n}.1\n  - Пункт {n}.2\n    - Деталь" for n in range(1, 9))
    return f"Hello {NAME},\n\n{numbered}\n\n{nested}\n"


def _links() -> str:
    links = "\n".join(
        f"* https://example.com/catalogue/category-{n}/product-{n * 7}?ref=newsletter&session="
        f"{'a1b2c3d4' * 6}&lang=ru#reviews" for n in range(1, 31))
    return f"Hi {NAME}, everything we mentioned:\n\n{links}\n"


def _qp_triggers() -> str:
    return "\n".join([
        f"Dear {NAME},", "", "From the desk of the manager: this line starts with From.",
        ".", "..", ". a line that starts with a dot", "x = 1 + 1 == 2 = true; 100% =?utf-8?q?not?= a word",
        "trailing spaces   ", "trailing tab\t", "\ttab at the start", "=3D=20 looks encoded",
        "a" * 76, "b" * 77, "c" * 997, "", "-- ", "Signature after the dashes",
    ])


CORPUS = (
    CorpusLetter("pure-ascii", "Your weekly update",
                 f"Hello {NAME},\n\nThis is a short plain note in ASCII only.\n\nThanks,\nThe team"),
    CorpusLetter("cyrillic", f"Новости для {NAME}",
                 f"Здравствуйте, {NAME}!\n\nВ этом месяце у нас открылся второй магазин.\n"
                 "Ждём вас по адресу: ул. Ленина, д. 1.\n\nС уважением,\nКоманда «Пекарни»"),
    CorpusLetter("emoji", "🎉 Big sale 🛍️ for you, " + NAME + " 💐",
                 f"Hi {NAME} 👋\n\n🔥 Up to 50% off 🔥\n👨‍👩‍👧‍👦 family packs, 🏳️‍🌈 pride week, 🇷🇺🇬🇧 flags\n"
                 "Skin tones: 👍🏽 👍🏿 — and ZWJ: 🧑‍💻\n"),
    CorpusLetter("unbroken-5000", "A long link",
                 f"{NAME}, your personal link:\n\nhttps://example.com/t/{'Z' * 5000}\n\nUse it soon."),
    CorpusLetter("long-names", f"Для {NAME}", f"Уважаемый(ая) {NAME}, спасибо за заказ.",
                 clients=(("k@example.com", "Константин Константинович Константинопольский-Воскресенский"),
                          ("q@example.com", 'Dr. "Quoted", Jr. (Comment) <Angle> Name; with: specials'),
                          ("w@example.com", "Wolfeschlegelsteinhausenbergerdorff Hubert Blaine " * 3))),
    CorpusLetter("long-subject",
                 "Большая весенняя распродажа: скидки до 70 % на всю коллекцию, бесплатная доставка по "
                 "всей стране и подарки каждому покупателю — только до конца недели, " + NAME,
                 f"{NAME}, подробности на сайте."),
    CorpusLetter("qp-triggers", "Dots, From and equals", _qp_triggers()),
    CorpusLetter("table", "Прайс-лист", _table()),
    CorpusLetter("lists", "Steps and sections", _lists()),
    CorpusLetter("links", "All the links", _links()),
    CorpusLetter("newsletter-50kb", f"Весенний выпуск для {NAME}", _newsletter_50kb()),
    CorpusLetter("mixed-scripts", "Ελληνικά, עברית, العربية, 中文, 日本語",
                 f"{NAME}:\nΚαλημέρα κόσμε\nשלום עולם\nمرحبا بالعالم\n你好，世界\nこんにちは世界\n"
                 "Ünïcödé çömbíning: e\u0301 a\u0308\n"),
    CorpusLetter("bare-cr-and-blank-lines", "Line endings of every kind",
                 f"{NAME}\r\nwindows line\rold mac line\nunix line\n\n\n\nafter three blank lines\n"),
)
