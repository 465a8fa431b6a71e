"""Which skill a conversation needs, from what the visitor wrote (phrase notation in
``phrases``): ``billing`` (payments, invoices, refunds), ``technical`` (errors, bugs,
"doesn't work") or ``sales`` (prices, plans, buying); None when nothing says so.

The most recent question that names a topic decides, so "it doesn't work" after "how much
is the pro plan?" goes to a technical agent.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from .phrases import PhraseSet

BILLING = "billing"
TECHNICAL = "technical"
SALES = "sales"

SKILL_PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    BILLING: {
        "en": (
            "refund*",
            "reimburs*",
            "invoice*",
            "billing",
            "billed",
            "bill",
            "charged|charge|charges",
            "payment*",
            "receipt*",
            "credit card",
            "=money back",
            "chargeback*",
            "overcharg*",
        ),
        "es": ("reembols*", "factura*", "cobr*", "pago*", "tarjeta de credito", "devolu* dinero"),
        "fr": ("rembours*", "factur*", "paiement*", "prelev*", "debit*", "carte bancaire"),
        "de": ("ruckerstatt*", "erstatt*", "rechnung*", "zahlung*", "abbuchung*", "belastet"),
        "it": ("rimbors*", "fattur*", "pagament*", "addebit*", "carta di credito"),
        "pt": ("reembols*", "estorn*", "fatura*", "cobranca*", "cobrad*", "pagamento*"),
        "nl": ("terugbetal*", "factuur*", "facturen", "betaling*", "afgeschreven", "restitutie"),
        "sv": ("aterbetal*", "faktur*", "betalning*", "debiter*"),
        "da": ("refusion", "tilbagebetal*", "faktura*", "betaling*", "trukket"),
        "pl": ("zwrot* pieniedzy|platnosci|srodkow", "faktur*", "platnosc*", "obciaz*"),
        "tr": ("iade*", "fatura*", "odeme*", "ucret*", "tahsil*"),
        "ja": ("返金", "請求", "支払", "領収書", "課金"),
        "zh": ("退款", "发票", "發票", "账单", "賬單", "扣款", "付款", "支付"),
        "ar": ("استرداد", "فاتوره", "الفاتوره", "دفع", "الدفع", "خصم", "رسوم"),
    },
    TECHNICAL: {
        "en": (
            "error*",
            "bug|bugs|buggy",
            "crash*",
            "broken",
            "=doesnt|dont|didnt|wont|cant|isnt|not work*|load*|open*|start*|connect*",
            "=not working",
            "stopped|stops working",
            "fail*",
            "glitch*",
            "=cannot|cant log*|sign*|connect*|access|install*",
            "=unable to log*|sign*|connect*|access|install*",
            "install*",
            "configur*",
            "timeout|timeouts|timed",
        ),
        "es": ("error*", "fallo*", "falla*", "no funciona*", "no carga*", "se cuelga", "bug*"),
        "fr": ("erreur*", "bug*", "plant*", "ne fonctionne|marche pas|plus", "panne*"),
        "de": ("fehler*", "funktioniert nicht", "absturz*", "sturzt ab", "bug*"),
        "it": ("errore*", "errori", "non funziona*", "bug*", "si blocca", "crash*"),
        "pt": ("erro|erros", "nao funciona*", "travando|trava", "bug*", "falha*"),
        "nl": ("fout*", "werkt niet", "storing*", "crasht", "bug*"),
        "sv": ("fel|felet", "fungerar inte", "kraschar", "bugg*"),
        "da": ("fejl*", "virker ikke", "fungerer ikke", "crasher", "bug*"),
        "pl": ("blad|bledy|bledu", "nie dziala*", "awari*", "zawiesza*"),
        "tr": ("hata*", "calismiyor", "cokuyor", "acilmiyor"),
        "ja": ("エラー", "不具合", "動かない", "バグ", "起動しない", "ログインできない"),
        "zh": ("错误", "錯誤", "报错", "報錯", "故障", "无法", "無法", "打不开", "崩溃", "不能用"),
        "ar": ("خطا", "مشكله تقنيه", "لا يعمل", "لا تعمل", "عطل"),
    },
    SALES: {
        "en": (
            "pric*",
            "=how much|much does|is it|are they",
            "plan|plans",
            "subscription*",
            "upgrad*",
            "quote|quotes",
            "discount*",
            "trial",
            "enterprise",
            "licen*",
            "buy|buying|purchase*",
            "demo",
        ),
        "es": ("precio*", "cuanto cuesta*", "plan|planes", "suscripci*", "descuento*", "comprar"),
        "fr": ("prix", "tarif*", "combien coute", "abonnement*", "forfait*", "remise*", "acheter"),
        "de": ("preis*", "was kostet", "tarif*", "abonnement*", "abo", "rabatt*", "kaufen"),
        "it": ("prezz*", "quanto costa", "piano|piani", "abbonament*", "scont*", "acquist*"),
        "pt": ("preco*", "quanto custa", "plano|planos", "assinatura*", "desconto*", "comprar"),
        "nl": ("prijs*", "prijzen", "wat kost", "abonnement*", "korting*", "kopen"),
        "sv": ("pris*", "vad kostar", "abonnemang*", "prenumeration*", "rabatt*", "kopa"),
        "da": ("pris*", "hvad koster", "abonnement*", "rabat*", "kobe"),
        "pl": ("cen*", "ile kosztuje", "plan|plany|planu", "subskrypc*", "rabat*", "kupic"),
        "tr": ("fiyat*", "ne kadar", "abonelik*", "paket*", "indirim*", "satin al*"),
        "ja": ("価格", "料金", "いくら", "プラン", "割引", "購入"),
        "zh": ("价格", "價格", "多少钱", "多少錢", "套餐", "订阅", "訂閱", "折扣", "购买", "購買"),
        "ar": ("سعر", "السعر", "الاسعار", "كم سعر", "كم يكلف", "اشتراك", "خصم", "شراء"),
    },
}


@cache
def _skill_phrases() -> tuple[tuple[str, PhraseSet], ...]:
    # Billing and technical before sales: "I was charged for the pro plan" is a billing matter.
    return tuple(
        (skill, PhraseSet.of(SKILL_PHRASES[skill])) for skill in (BILLING, TECHNICAL, SALES)
    )


def skill_of_text(text: str) -> str | None:
    for skill, phrases in _skill_phrases():
        if phrases.find(text) is not None:
            return skill
    return None


def skill_of_conversation(questions: Iterable[str]) -> str | None:
    """The skill named by the most recent question that names one (oldest first in)."""
    for question in reversed(list(questions)):
        skill = skill_of_text(question)
        if skill is not None:
            return skill
    return None
