"""World cities for the local weather service: name, country, ISO code, coordinates, time zone.

Coordinates are public facts, rounded to two decimals.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CAPITALS", "CITIES", "City", "capital_of"]


@dataclass(frozen=True)
class City:
    id: int
    name: str
    country: str
    country_code: str
    latitude: float
    longitude: float
    timezone: str
    capital: bool = False  # the country's capital (only for countries whose capital is listed)


_TABLE = """
Seoul|South Korea|KR|37.57|126.98|Asia/Seoul
Tokyo|Japan|JP|35.69|139.69|Asia/Tokyo
Paris|France|FR|48.85|2.35|Europe/Paris
London|United Kingdom|GB|51.51|-0.13|Europe/London
New York|United States|US|40.71|-74.01|America/New_York
Los Angeles|United States|US|34.05|-118.24|America/Los_Angeles
Chicago|United States|US|41.85|-87.65|America/Chicago
Houston|United States|US|29.76|-95.36|America/Chicago
San Francisco|United States|US|37.77|-122.42|America/Los_Angeles
Seattle|United States|US|47.61|-122.33|America/Los_Angeles
Miami|United States|US|25.77|-80.19|America/New_York
Boston|United States|US|42.36|-71.06|America/New_York
Washington|United States|US|38.90|-77.04|America/New_York
Denver|United States|US|39.74|-104.98|America/Denver
Toronto|Canada|CA|43.70|-79.42|America/Toronto
Montreal|Canada|CA|45.51|-73.59|America/Toronto
Vancouver|Canada|CA|49.25|-123.12|America/Vancouver
Mexico City|Mexico|MX|19.43|-99.13|America/Mexico_City
Havana|Cuba|CU|23.13|-82.38|America/Havana
Bogota|Colombia|CO|4.61|-74.08|America/Bogota
Lima|Peru|PE|-12.04|-77.03|America/Lima
Santiago|Chile|CL|-33.46|-70.65|America/Santiago
Buenos Aires|Argentina|AR|-34.61|-58.38|America/Argentina/Buenos_Aires
Sao Paulo|Brazil|BR|-23.55|-46.64|America/Sao_Paulo
Rio de Janeiro|Brazil|BR|-22.91|-43.18|America/Sao_Paulo
Caracas|Venezuela|VE|10.49|-66.88|America/Caracas
Quito|Ecuador|EC|-0.23|-78.52|America/Guayaquil
Montevideo|Uruguay|UY|-34.90|-56.19|America/Montevideo
Berlin|Germany|DE|52.52|13.41|Europe/Berlin
Munich|Germany|DE|48.14|11.58|Europe/Berlin
Hamburg|Germany|DE|53.55|10.00|Europe/Berlin
Madrid|Spain|ES|40.42|-3.70|Europe/Madrid
Barcelona|Spain|ES|41.39|2.16|Europe/Madrid
Lisbon|Portugal|PT|38.72|-9.13|Europe/Lisbon
Rome|Italy|IT|41.89|12.51|Europe/Rome
Milan|Italy|IT|45.46|9.19|Europe/Rome
Amsterdam|Netherlands|NL|52.37|4.89|Europe/Amsterdam
Brussels|Belgium|BE|50.85|4.35|Europe/Brussels
Vienna|Austria|AT|48.21|16.37|Europe/Vienna
Zurich|Switzerland|CH|47.37|8.55|Europe/Zurich
Geneva|Switzerland|CH|46.20|6.15|Europe/Zurich
Prague|Czechia|CZ|50.09|14.42|Europe/Prague
Warsaw|Poland|PL|52.23|21.01|Europe/Warsaw
Budapest|Hungary|HU|47.50|19.04|Europe/Budapest
Copenhagen|Denmark|DK|55.68|12.57|Europe/Copenhagen
Stockholm|Sweden|SE|59.33|18.07|Europe/Stockholm
Oslo|Norway|NO|59.91|10.75|Europe/Oslo
Helsinki|Finland|FI|60.17|24.94|Europe/Helsinki
Reykjavik|Iceland|IS|64.14|-21.90|Atlantic/Reykjavik
Dublin|Ireland|IE|53.33|-6.25|Europe/Dublin
Edinburgh|United Kingdom|GB|55.95|-3.20|Europe/London
Athens|Greece|GR|37.98|23.73|Europe/Athens
Istanbul|Turkey|TR|41.01|28.95|Europe/Istanbul
Ankara|Turkey|TR|39.92|32.85|Europe/Istanbul
Kyiv|Ukraine|UA|50.45|30.52|Europe/Kyiv
Moscow|Russia|RU|55.75|37.62|Europe/Moscow
Bucharest|Romania|RO|44.43|26.11|Europe/Bucharest
Sofia|Bulgaria|BG|42.70|23.32|Europe/Sofia
Belgrade|Serbia|RS|44.80|20.47|Europe/Belgrade
Zagreb|Croatia|HR|45.81|15.98|Europe/Zagreb
Cairo|Egypt|EG|30.06|31.25|Africa/Cairo
Casablanca|Morocco|MA|33.59|-7.62|Africa/Casablanca
Tunis|Tunisia|TN|36.82|10.17|Africa/Tunis
Algiers|Algeria|DZ|36.74|3.09|Africa/Algiers
Lagos|Nigeria|NG|6.45|3.39|Africa/Lagos
Accra|Ghana|GH|5.56|-0.20|Africa/Accra
Dakar|Senegal|SN|14.69|-17.44|Africa/Dakar
Nairobi|Kenya|KE|-1.29|36.82|Africa/Nairobi
Addis Ababa|Ethiopia|ET|9.02|38.75|Africa/Addis_Ababa
Kinshasa|DR Congo|CD|-4.32|15.31|Africa/Kinshasa
Johannesburg|South Africa|ZA|-26.20|28.04|Africa/Johannesburg
Cape Town|South Africa|ZA|-33.93|18.42|Africa/Johannesburg
Dar es Salaam|Tanzania|TZ|-6.82|39.27|Africa/Dar_es_Salaam
Kampala|Uganda|UG|0.32|32.58|Africa/Kampala
Luanda|Angola|AO|-8.84|13.23|Africa/Luanda
Dubai|United Arab Emirates|AE|25.08|55.31|Asia/Dubai
Abu Dhabi|United Arab Emirates|AE|24.47|54.37|Asia/Dubai
Riyadh|Saudi Arabia|SA|24.69|46.72|Asia/Riyadh
Doha|Qatar|QA|25.29|51.53|Asia/Qatar
Tehran|Iran|IR|35.69|51.42|Asia/Tehran
Baghdad|Iraq|IQ|33.34|44.40|Asia/Baghdad
Jerusalem|Israel|IL|31.77|35.22|Asia/Jerusalem
Amman|Jordan|JO|31.96|35.95|Asia/Amman
Beirut|Lebanon|LB|33.89|35.50|Asia/Beirut
Karachi|Pakistan|PK|24.86|67.01|Asia/Karachi
Lahore|Pakistan|PK|31.56|74.35|Asia/Karachi
Delhi|India|IN|28.65|77.23|Asia/Kolkata
Mumbai|India|IN|19.07|72.88|Asia/Kolkata
Bangalore|India|IN|12.97|77.59|Asia/Kolkata
Chennai|India|IN|13.09|80.28|Asia/Kolkata
Kolkata|India|IN|22.56|88.36|Asia/Kolkata
Dhaka|Bangladesh|BD|23.71|90.41|Asia/Dhaka
Kathmandu|Nepal|NP|27.70|85.32|Asia/Kathmandu
Colombo|Sri Lanka|LK|6.93|79.85|Asia/Colombo
Bangkok|Thailand|TH|13.75|100.50|Asia/Bangkok
Hanoi|Vietnam|VN|21.02|105.84|Asia/Bangkok
Ho Chi Minh City|Vietnam|VN|10.82|106.63|Asia/Ho_Chi_Minh
Kuala Lumpur|Malaysia|MY|3.14|101.69|Asia/Kuala_Lumpur
Singapore|Singapore|SG|1.29|103.85|Asia/Singapore
Jakarta|Indonesia|ID|-6.21|106.85|Asia/Jakarta
Manila|Philippines|PH|14.60|120.98|Asia/Manila
Beijing|China|CN|39.91|116.40|Asia/Shanghai
Shanghai|China|CN|31.22|121.46|Asia/Shanghai
Shenzhen|China|CN|22.55|114.07|Asia/Shanghai
Guangzhou|China|CN|23.12|113.25|Asia/Shanghai
Hong Kong|Hong Kong|HK|22.28|114.17|Asia/Hong_Kong
Taipei|Taiwan|TW|25.05|121.53|Asia/Taipei
Busan|South Korea|KR|35.10|129.04|Asia/Seoul
Osaka|Japan|JP|34.69|135.50|Asia/Tokyo
Kyoto|Japan|JP|35.02|135.75|Asia/Tokyo
Sapporo|Japan|JP|43.06|141.35|Asia/Tokyo
Ulaanbaatar|Mongolia|MN|47.91|106.88|Asia/Ulaanbaatar
Almaty|Kazakhstan|KZ|43.25|76.92|Asia/Almaty
Tashkent|Uzbekistan|UZ|41.26|69.22|Asia/Tashkent
Sydney|Australia|AU|-33.87|151.21|Australia/Sydney
Melbourne|Australia|AU|-37.81|144.96|Australia/Melbourne
Brisbane|Australia|AU|-27.47|153.03|Australia/Brisbane
Perth|Australia|AU|-31.95|115.86|Australia/Perth
Auckland|New Zealand|NZ|-36.85|174.76|Pacific/Auckland
Wellington|New Zealand|NZ|-41.29|174.78|Pacific/Auckland
Honolulu|United States|US|21.31|-157.86|Pacific/Honolulu
Anchorage|United States|US|61.22|-149.90|America/Anchorage
"""

# Capitals among the cities above; countries whose capital is not in the table have none here.
_CAPITALS = {
    "Seoul", "Tokyo", "Paris", "London", "Washington", "Mexico City", "Havana", "Bogota", "Lima",
    "Santiago", "Buenos Aires", "Caracas", "Quito", "Montevideo", "Berlin", "Madrid", "Lisbon",
    "Rome", "Amsterdam", "Brussels", "Vienna", "Prague", "Warsaw", "Budapest", "Copenhagen",
    "Stockholm", "Oslo", "Helsinki", "Reykjavik", "Dublin", "Athens", "Ankara", "Kyiv", "Moscow",
    "Bucharest", "Sofia", "Belgrade", "Zagreb", "Cairo", "Tunis", "Algiers", "Accra", "Dakar",
    "Nairobi", "Addis Ababa", "Kinshasa", "Kampala", "Luanda", "Abu Dhabi", "Riyadh", "Doha",
    "Tehran", "Baghdad", "Amman", "Beirut", "Dhaka", "Kathmandu", "Bangkok", "Hanoi",
    "Kuala Lumpur", "Singapore", "Jakarta", "Manila", "Beijing", "Ulaanbaatar", "Tashkent",
    "Wellington",
}  # fmt: skip

CITIES: tuple[City, ...] = tuple(
    City(index + 1, name, country, code, float(lat), float(lon), zone, name in _CAPITALS)
    for index, (name, country, code, lat, lon, zone) in enumerate(
        line.split("|") for line in _TABLE.strip().splitlines()
    )
)
CAPITALS: dict[str, City] = {c.country: c for c in CITIES if c.capital}
"""Each country's capital by the country's name, e.g. ``CAPITALS["Peru"].name == "Lima"``."""


def capital_of(country: str) -> City | None:
    """The capital of ``country`` (its name or ISO code, any case), or None if not listed."""
    wanted = country.strip().lower()
    return next(
        (c for c in CAPITALS.values() if wanted in (c.country.lower(), c.country_code.lower())),
        None,
    )
