"""Default phrase lists of the escalation rules, by language (notation in ``phrases``).

They are written to catch *requests* and *complaints about the conversation*, not mere
mentions: "talk to a human" is a request, "what are your support hours?" is not; "I am a
real person" is not, so "real person" alone is never a pattern. Sites can add phrases and
replace the sensitive topics through their policy overrides.
"""

from __future__ import annotations

# Nouns naming a human helper, reused across English patterns.
_EN_HUMAN = (
    "human*|person|people|agent*|someone|somebody|anyone|anybody|representative*|rep|reps|"
    "operator*|staff|employee*|supervisor*|manager*|advisor*|adviser*|associate*|specialist*|"
    "assistant|assistants"
)

_FR_HUMAN = (
    "humain*|agent*|conseiller|conseillers|conseillere*|operateur|operateurs|operatrice*|quelqu*"
)

HUMAN_REQUEST: dict[str, tuple[str, ...]] = {
    "en": (
        f"talk*|speak*|chat*|convers* to|with {_EN_HUMAN}",
        "connect*|transfer*|put|forward*|pass|escalat*|hand me|us|this|it to|with|through "
        f"{_EN_HUMAN}|support|team|department|desk",
        # One word between at most: "want a human", not "want to follow someone".
        "~1 contact*|reach|request*|need|want|get|prefer human*|person|representative*|"
        "operator*|someone|somebody|supervisor*|manager*|assistant",
        "~1 want|need|get|request*|prefer real|actual|live human*|person|agent*|representative*",
        "is|are there human*|person|someone|somebody|anyone|anybody|agent*|representative* "
        "talk*|speak*|chat*",
        "=human|live agent*|operator*|representative*|support|assistance|help",
        "=real|actual agent*|operator*|representative*",
        "=live person|people",
        "=customer service|support|care representative*|rep|agent*|person|staff",
        "=human|person|agent|representative|operator please|pls|plz",
    ),
    "es": (
        # Verbs spelled out in Spanish: "contact*" would read "contact a person" as Spanish.
        "habl*|conversar*|comunicar*|contactar*|chate* con|a persona*|humano*|agente*|operador*|"
        "alguien|asesor*|representante*|ejecutivo*|supervisor*|encargado*",
        "pasame|paseme|pasenme|transfier*|transfer*|deriv*|redirig* con|a agente*|humano*|"
        "persona*|asesor*|operador*|alguien|soporte",
        "quiero|necesito|prefiero|solicito humano*|alguien|asesor*|operador*",
        "=agente|atencion|asesor|operador|asistencia humano|humana|real",
        "=humano|persona|agente|asesor por favor",
    ),
    "fr": (
        f"parl*|discut*|echang*|convers*|chatt* a|avec|au {_FR_HUMAN}|personne|interlocut*|"
        "responsable",
        f"contact*|joindre|avoir|veux|voudrais|souhait*|besoin|demande {_FR_HUMAN}",
        f"mett*|transf*|redirig*|pass* en|vers|a relation|support|{_FR_HUMAN}",
        f"pass*|transf*|mett* moi {_FR_HUMAN}",
        "=agent|conseiller|operateur|assistance|service|interlocuteur humain|humaine",
        "=humain|conseiller|agent|operateur svp|stp|s",
    ),
    "de": (
        "mit mensch*|mitarbeit*|person|jemand*|berater*|agent*|kundenberat*|kundendienst|"
        "kundenservice|support|operator*|ansprechpartner* sprech*|red*|chatt*|verbind*|"
        "telefonier*",
        "sprech*|red*|chatt*|verbind* mit|zu mensch*|mitarbeit*|person|jemand*|berater*|"
        "agent*|kundenberat*|kundendienst|kundenservice|support|operator*|ansprechpartner*",
        "verbind*|weiterleit*|durchstell* mich mit|zu|an mensch*|mitarbeit*|person|jemand*|"
        "berater*|agent*|kundenberat*|kundendienst|kundenservice|support|ansprechpartner*",
        "mochte|moechte|will|brauche|wunsche mensch*|mitarbeit*|berater*|jemand*|ansprechpartner*",
        "=menschlich* mitarbeit*|berater*|ansprechpartner*|hilfe|unterstutzung|support|agent*",
        "=mensch|mitarbeiter|berater bitte",
    ),
    "it": (
        "parl*|chiacchier*|chatt*|contatt*|mett* con|a operator*|persona|umano|umani|agente|"
        "agenti|qualcuno|consulente|assistente|responsabile|addetto",
        "contatt*|voglio|vorrei|chiedo|serve|bisogno operator*|umano|qualcuno|consulente",
        "passami|passatemi|mettimi|mettetemi|trasferisci*|trasferitemi operator*|umano|"
        "qualcuno|consulente|persona|contatto",
        "=operatore|assistente|agente|consulente|assistenza umano|umana|reale",
        "=operatore|umano per favore",
    ),
    "pt": (
        "fal*|convers*|contat*|chat* com|a|c pessoa*|humano*|atendente*|agente*|alguem|"
        "operador*|consultor*|representante*|gerente|supervisor*",
        "quero|preciso|gostaria|prefiro|solicito atendente*|humano*|alguem|operador*|consultor*",
        "transfer*|passa*|encaminh*|direcion* para|pra|com atendente*|humano*|pessoa*|"
        "agente*|alguem|operador*|suporte",
        "=atendente|atendimento|agente|operador|suporte humano|real",
        "=atendente|humano por favor",
    ),
    "nl": (
        "met mens|mensen|medewerker*|persoon|iemand|agent|operator|adviseur*|klantenservice|"
        "servicedesk spre*|prat*|chat*|bel*|verbonden|verbinden",
        "spre*|prat*|chat*|verbind*|doorverbind* met|naar mens|mensen|medewerker*|persoon|"
        "iemand|agent|operator|adviseur*|klantenservice",
        "wil|wens|graag|nodig mens|medewerker*|iemand|adviseur*",
        "=menselijke medewerker*|hulp|ondersteuning|adviseur*",
        "=medewerker|mens graag|alsjeblieft|alstublieft",
    ),
    "sv": (
        "prata*|tala*|chatta*|snacka*|kontakt* med|till manniska*|manniskor|person|"
        "handlaggare*|nagon|agent|medarbetare*|personal|kundtjanst|kundservice|support*|"
        "operator*|radgivare",
        "koppla*|vidarekoppla*|overfor* till manniska*|person|handlaggare*|nagon|"
        "medarbetare*|kundtjanst|support*",
        "vill|behover manniska*|handlaggare*|nagon|medarbetare*",
        "=mansklig* handlaggare*|hjalp|support|medarbetare*|kontakt",
    ),
    "da": (
        "tal*|snak*|chat*|kontakt* med|til menneske*|person|medarbejder*|nogen|agent|"
        "kundeservice|radgiver*|support*|operator*",
        "stil*|viderestil*|forbind* til|med menneske*|person|medarbejder*|nogen|"
        "kundeservice|support*",
        "vil|onsker|behover|brug menneske*|medarbejder*|nogen|radgiver*",
        "=menneskelig* hjaelp|medarbejder*|support|kontakt|radgiver*",
    ),
    "pl": (
        "rozmaw*|porozmaw*|pogada*|polacz*|skontakt*|kontakt*|czat* z|ze czlowiek*|"
        "konsultant*|osob*|agent*|pracownik*|kims|doradc*|operator*|przedstawiciel*|ludzmi",
        "chce|chcialbym|chcialabym|potrzebuje|prosze|poprosze czlowiek*|konsultant*|kogos|"
        "pracownik*|doradc*|operator*",
        "=zyw* czlowiek*|konsultant*|osob*|pracownik*",
    ),
    "tr": (
        "insan*|temsilci*|yetkili*|operator*|biri*|personel*|calisan*|danisman* konus*|"
        "gorus*|bagla*|aktar*|yonlendir*|ulas*",
        "=musteri temsilci*|hizmetleri*",
        "=canli destek|temsilci*|yardim|kisi|insan*",
        "=temsilci*|insan*|yetkili*|operator* istiyorum|lutfen",
    ),
    "ja": (
        "人間と話",
        "人と話",
        "人間に代",
        "人に代わ",
        "人間につな",
        "人につな",
        "担当者と話",
        "担当者に代",
        "担当者につな",
        "担当の方と",
        "オペレーターと",
        "オペレーターに",
        "オペレータと",
        "オペレータに",
        "有人対応",
        "有人チャット",
        "スタッフと話",
        "スタッフに代",
        "人間のスタッフ",
    ),
    "zh": (
        "转人工",
        "轉人工",
        "人工客服",
        "人工服务",
        "人工服務",
        "人工坐席",
        "接人工",
        "找人工",
        "要人工",
        "跟人工",
        "和人工",
        "真人客服",
        "真人服务",
        "找真人",
        "跟真人",
        "和真人",
        "找客服",
        "转客服",
        "轉客服",
        "客服人员",
        "客服人員",
        "和人说话",
        "跟人说话",
        "和人說話",
        "跟人說話",
    ),
    "ar": (
        "التحدث|التكلم|اتحدث|اتكلم|الكلام|الحديث|التواصل|اتواصل|تحدث|محادثه مع|الي|الى "
        "شخص|موظف|الموظف|انسان|بشري|ممثل|مندوب|احد|مسؤول|المسؤول|الدعم|موظفين",
        "اكلم|كلمني|حولني|حولوني|وصلني|اوصلني|تحويلي|حولني|ابغى|ابغي|اريد|احتاج|اطلب "
        "شخص|موظف|الموظف|لموظف|انسان|لانسان|ممثل|مندوب|احد|مسؤول",
        "=ممثل|موظف|مندوب خدمه",
        "=موظف|دعم|ممثل حقيقي|بشري",
    ),
}

# Negation and volition words, all languages together: a human-request match preceded in
# its clause by one of each ("I don't want", "no quiero", "je ne veux pas", "ich möchte
# nicht") is the visitor declining, not asking.
NEGATION_WORDS: tuple[str, ...] = (
    # en
    "not", "no", "never", "dont", "doesnt", "didnt", "wont", "cannot", "nor",
    # es, pt, it
    "nunca", "jamas", "tampoco", "nao", "non", "mai",
    # fr
    "ne", "pas", "jamais", "n",
    # de, nl, sv, da, pl
    "nicht", "kein", "keine", "keinen", "nie", "niemals", "niet", "geen", "nooit",
    "inte", "aldrig", "ej", "ikke", "nigdy",
    # ar
    "لا", "لن", "لم", "ليس", "لست",
)  # fmt: skip
VOLITION_WORDS: tuple[str, ...] = (
    "want", "wanna", "need", "wish", "like", "prefer",
    "quiero", "necesito", "quisiera", "prefiero", "quero", "preciso", "gostaria",
    "veux", "voudrais", "souhaite", "besoin",
    "mochte", "moechte", "will", "brauche", "wunsche",
    "voglio", "vorrei", "serve",
    "wil", "wilt", "hoef",
    "vill", "behover", "vil", "onsker",
    "chce", "chcialbym", "chcialabym", "potrzebuje",
    "اريد", "ابغى", "احتاج",
)  # fmt: skip

FRUSTRATION: dict[str, tuple[str, ...]] = {
    "en": (
        "useless",
        "pointless",
        "worthless",
        "unhelpful",
        "terrible",
        "horrible",
        "awful",
        "ridiculous",
        "rubbish",
        "garbage",
        "pathetic",
        "frustrat*",
        "annoying",
        "annoyed",
        "complain*",
        "wtf",
        "=fed up",
        "wast* time",
        "=not|doesnt|didnt|isnt|wasnt|dont|never help|helps|helped|helpful|helping|useful",
        "=makes|made|make no sense",
        "=doesnt|dont|didnt make sense",
        "=not what i asked|meant|wanted",
        "you dont|didnt|cant|never|arent|not understand*|listen*",
        "stupid|dumb|useless|worst|silly bot|ai|chatbot|assistant|machine|robot|answer*",
        "=are you even listening|reading",
        "=worst service|experience|support|ever",
    ),
    "es": (
        "inutil",
        "=no sirve*|sirves|ayuda*|ayudas|entiende*|entiendes",
        "=no me ayuda*|ayudas|ayudaste|sirve*|sirves|entiende*|entiendes",
        "perdida de tiempo",
        "terrible",
        "horrible",
        "pesim*",
        "ridicul*",
        "harto|harta",
        "frustra*",
        "basura",
        "verguenza",
        "=que mal servicio",
    ),
    "fr": (
        "inutile",
        "=c est nul|nulle",
        "=sert a rien",
        "=aide|aides|aidez pas",
        "tu|vous comprend*|comprenez pas|rien",
        "perte de temps",
        "=n importe quoi",
        "ridicule",
        "horrible",
        "lamentable",
        "marre",
        "agacant*",
        "enervant*",
        "=pas utile",
        "bot|robot|assistant|service nul|nulle|inutile",
    ),
    "de": (
        "nutzlos",
        "sinnlos",
        "unbrauchbar",
        "zeitverschwendung",
        "schrecklich",
        "furchtbar",
        "katastroph*",
        "lacherlich",
        "frustrier*",
        "nervig",
        "quatsch",
        "blodsinn",
        "hilft nicht|nichts|kein*",
        "=nicht hilfreich",
        "=keine hilfe",
        "verstehst|verstehen mich|uns nicht|nichts",
        "verstehst nicht|nichts",
        "=bringt nichts",
    ),
    "it": (
        "inutile",
        "=non mi aiuta|aiuti|serve",
        "=non aiuta|aiuti|capisci|capite",
        "=non serve a niente|nulla",
        "perdita di tempo",
        "terribile",
        "pessim*",
        "ridicol*",
        "assurdo",
        "vergogna",
        "schifo",
        "frustrant*",
    ),
    "pt": (
        "inutil",
        "=nao ajuda|ajudou|entende|entendeu",
        "=nao serve pra|para nada",
        "=nao me ajuda*|ajudou|entende*",
        "perda de tempo",
        "pessim*",
        "horrivel",
        "ridicul*",
        "absurdo",
        "porcaria",
        "lixo",
        "frustra*",
    ),
    "nl": (
        "nutteloos",
        "waardeloos",
        "helpt niet|niks|niets",
        "tijdverspilling",
        "verschrikkelijk",
        "belachelijk",
        "je|u begrijp*|snap* niet|niets",
        "begrijp*|snap* je|u niet|niets",
    ),
    "sv": (
        "vardelos*",
        "oanvandbar*",
        "meningslos*",
        "hjalper inte",
        "sloseri tid",
        "fruktansvard*",
        "urdalig*",
        "bedrovlig*",
        "du forstar inte",
        "forstar du inte",
    ),
    "da": (
        "ubrugelig*",
        "nyttelos*",
        "hjaelper ikke",
        "spild tid",
        "forfaerdelig*",
        "elendig*",
        "latterlig*",
        "du forstar ikke",
        "forstar du ikke",
    ),
    "pl": (
        "bezuzyteczn*",
        "=nie pomaga*|pomogl*|pomoze|pomagasz",
        "strata czasu",
        "okropn*",
        "beznadziejn*",
        "fataln*",
        "=nie rozumiesz|rozumiecie",
        "zalosn*",
        "tragiczn*",
        "=bez sensu",
    ),
    "tr": (
        "=ise yaramaz|yaramiyor",
        "=yardimci olmuyor|olmadi|olmadiniz|olmuyorsun",
        "=zaman kaybi",
        "berbat",
        "rezalet",
        "sacma*",
        "anlamiyorsun*",
        "faydasiz",
        "bikt*",
    ),
    "ja": (
        "役に立たない",
        "役にたたない",
        "使えない",
        "意味がない",
        "意味ない",
        "ひどい",
        "酷い",
        "最悪",
        "話にならない",
        "わかってない",
        "分かってない",
        "イライラ",
        "いい加減にして",
        "ふざけ",
        "答えになってない",
    ),
    "zh": (
        "没用",
        "沒用",
        "没有用",
        "太差",
        "垃圾",
        "浪费时间",
        "浪費時間",
        "答非所问",
        "答非所問",
        "听不懂",
        "聽不懂",
        "什么破",
        "什麼破",
        "烦死",
        "煩死",
        "气死",
        "氣死",
        "无语",
        "無語",
        "废物",
        "廢物",
    ),
    "ar": (
        "=غير مفيد|مفيده",
        "=لا يساعد|تساعد|يفيد|تفيد|تفهم|يفهم|تفهمني",
        "مضيعه للوقت|الوقت|وقت",
        "=سيء|سيئ جدا",
        "فاشل",
        "سخيف",
        "تافه",
        "زفت",
        "محبط",
        "مزعج",
    ),
}

REFUND: dict[str, tuple[str, ...]] = {
    "en": ("refund*", "reimburs*", "=money back", "=my|the|our money back|returned"),
    "es": (
        "reembols*",
        "devolu* dinero|importe|pago",
        "devolv*|devuelv* dinero|importe|pago",
    ),
    "fr": ("rembours*", "rend* argent"),
    "de": ("ruckerstatt*", "erstatt*", "geld zuruck*"),
    "it": ("rimbors*", "soldi|denaro indietro"),
    "pt": ("reembols*", "estorn*", "=dinheiro de volta", "devolu* dinheiro"),
    "nl": ("terugbetal*", "geld terug", "restitutie"),
    "sv": ("aterbetal*", "pengar* tillbaka"),
    "da": ("refusion", "tilbagebetal*", "penge* tilbage"),
    "pl": (
        "zwrot* pieniedzy|kosztow|srodkow|platnosci|naleznosci",
        "oddaj*|zwroc* pieniadze",
    ),
    "tr": ("para*|ucret*|odeme*|parami|paramin iade*", "param*|paramin geri"),
    "ja": ("返金", "払い戻し", "払戻"),
    "zh": ("退款", "退钱", "退錢", "退费", "退費"),
    "ar": (
        "استرداد|استرجاع|ارجاع|رد|ترجيع المبلغ|الاموال|المال|اموالي|فلوسي|مبلغ|النقود|"
        "الفلوس|المدفوع",
    ),
}

BILLING_DISPUTE: dict[str, tuple[str, ...]] = {
    "en": (
        "chargeback*",
        "=charge back",
        "disput*|contest*|challeng* charge*|transaction*|payment*|bill*|invoice*|debit*",
        "charged|billed|debited twice",
        "=double charged|charge|charges|billed|billing",
        "overcharg*",
        "=unauthori*|fraudulent|unrecogni*|unknown charge*|transaction*|payment*|debit*|purchase*",
        "=wrong*|incorrect*|erroneous* charg*|debit*",
        "=wrongly|incorrectly billed|invoiced",
        "=billing error*|mistake*|dispute*",
        "=didnt|never authori*",
    ),
    "es": (
        "contracargo*",
        "cobr*|carg* dos veces",
        "cobr*|carg* doble|indebid*|duplicad*|erroneo*",
        "cobr* de mas",
        "cargo*|cobro*|transaccion* no autorizad*|reconocid*",
        "disput*|reclam*|impugn* cargo*|cobro*|factura*|pago*",
    ),
    "fr": (
        "debit*|factur*|prelev*|preleve* deux fois",
        "prelev*|debit*|paiement*|transaction* non autoris*|reconnu*",
        "contest* prelev*|debit*|paiement*|factur*|transaction*|charge*",
        "=erreur de facturation",
        "=double prelevement|facturation|debit",
        "surfactur*",
        "retrofacturation",
    ),
    "de": (
        "doppelt|zweimal abgebucht|belastet|berechnet|abgerechnet",
        "=unberechtigt*|falsch*|unbekannt* abbuchung*|belastung*|lastschrift*|zahlung|zahlungen",
        "=lastschrift zuruck*",
        "ruckbuchung*",
        "ruckbelastung*",
        "widerspruch|widersprech*|reklamier*|anfecht* abbuchung*|lastschrift*|rechnung*|"
        "zahlung*|belastung*",
        "rechnungsfehler",
        "fehler* rechnung",
    ),
    "it": (
        "addebit* due volte",
        "addebit*|pagament*|transazion* non autorizzat*|riconosciut*",
        "contest* addebit*|pagament*|fattur*|transazion*",
        "=doppio addebito",
        "=errore di fatturazione",
        "chargeback",
        "storno",
    ),
    "pt": (
        "cobranca*|cobrado*|debito* indevid*|duplicad*|errad*",
        "cobr*|debit* duas vezes",
        "contest* cobranca*|debito*|pagamento*|fatura*|transacao*",
        "cobranca*|compra*|transacao*|debito* nao reconhec*|autoriz*",
        "nao reconhec* cobranca*|compra*|debito*|transacao*",
    ),
    "nl": (
        "=dubbel afgeschreven|betaald|gefactureerd|afgeboekt",
        "twee keer afgeschreven|betaald|gefactureerd",
        "onterecht*|ongeautoriseerd*|onbekend* afgeschreven|afschrijving*|betaling*|"
        "transactie*|incasso*",
        "terugboeking*",
        "incasso* storn*|terugdraai*|terugboek*",
        "betwist* afschrijving*|betaling*|factuur*|transactie*|incasso*",
    ),
    "sv": (
        "dubbeldebiter*",
        "debiterad*|dragit*|drogs tva gang*",
        "obehorig*|okand*|felaktig* debitering*|dragning*|transaktion*|betalning*|faktura*",
        "bestrid* debitering*|betalning*|faktura*|transaktion*|dragning*",
        "aterforing*",
    ),
    "da": (
        "trukket|debiteret|betalt to gange",
        "dobbelttraek*",
        "uautoriser*|ukendt*|forkert* traek*|betaling*|transaktion*|debitering*|regning*",
        "bestrid*|indsigelse* traek*|betaling*|regning*|faktura*|transaktion*",
    ),
    "pl": (
        "podwojn*|dwukrotn* obciaz*|pobran*|platnosc*|oplat*",
        "pobran*|pobral*|obciazon* dwa razy",
        "nieautoryzowan*|nieznan*|nieuprawnion*|bledn* transakcj*|platnosc*|obciazen*|"
        "pobran*|oplat*",
        "chargeback",
        "reklamacj*|kwestion* transakcj*|platnosc*|obciazen*|faktur*|oplat*",
    ),
    "tr": (
        "iki kez|kere|defa ucret*|cek*|odeme*|tahsil*",
        "haksiz|yetkisiz|izinsiz|bilinmeyen|hatali ucret*|cekim*|odeme*|islem*|tahsilat*",
        "ucret*|cekim*|odeme*|islem*|fatura*|tahsilat* itiraz*",
    ),
    "ja": (
        "二重請求",
        "二重に請求",
        "二重引き落とし",
        "不正請求",
        "不正な請求",
        "身に覚えのない請求",
        "請求に異議",
        "チャージバック",
        "請求が間違",
        "2回請求",
        "二回請求",
    ),
    "zh": (
        "重复扣款",
        "重複扣款",
        "扣了两次",
        "扣了兩次",
        "多扣",
        "乱扣费",
        "亂扣費",
        "乱收费",
        "亂收費",
        "未授权扣款",
        "未經授權",
        "盗刷",
        "盜刷",
        "拒付",
        "账单有误",
        "賬單有誤",
    ),
    "ar": (
        "خصم|سحب|تحصيل مرتين",
        "خصم|رسوم|عمليه|معامله|سحب غير مصرح|معروف*|صحيح*",
        "اعتراض|الاعتراض|نزاع علي|على خصم|رسوم|الفاتوره|فاتوره|العمليه|المبلغ",
    ),
}

SENSITIVE_TOPICS: dict[str, dict[str, tuple[str, ...]]] = {
    "refund": REFUND,
    "billing_dispute": BILLING_DISPUTE,
}
