# Títulos de problemas (RFC 9457 "title")
problem-unauthenticated = Se requiere autenticación
problem-unauthenticated-detail = Inicie sesión o envíe un token de API válido en el encabezado Authorization.
problem-forbidden = No permitido
problem-forbidden-detail = La política del nodo no permite esta operación (regla: { $rule }).
problem-not-found = No encontrado
problem-not-found-detail = No existe { $kind } con ese identificador.
problem-validation = Datos no válidos
problem-validation-detail = { $count ->
    [one] Un campo no es válido.
   *[other] { $count } campos no son válidos.
}
problem-bad-query = Parámetros de consulta no válidos
problem-malformed-json = JSON mal formado
problem-malformed-json-detail = El cuerpo de la solicitud no es JSON válido.
problem-malformed-request = Solicitud mal formada
problem-malformed-request-detail = Este nodo no pudo leer la solicitud; revise su ruta, su consulta y sus encabezados.
problem-unsupported-media-type = Tipo de contenido no admitido
problem-unsupported-media-type-detail = Envíe el cuerpo de la solicitud como application/json.
problem-payload-too-large = Cuerpo de la solicitud demasiado grande
problem-payload-too-large-detail = El cuerpo de la solicitud excede lo que acepta este nodo ({ $limit } bytes).
problem-version-conflict = Conflicto de versión
problem-version-conflict-detail = El registro está en la versión { $current }; usted envió la versión { $given }. Vuelva a cargarlo y aplique su cambio de nuevo.
problem-joint-change = Compromiso conjunto
problem-joint-change-detail = Un compromiso conjunto solo cambia cuando ambas partes firman el cambio; una parte no puede cambiarlo sola.
problem-duplicate = Ya existe
problem-duplicate-detail = Ya existe un registro ({ $what }) con estos valores.
problem-too-many-requests = Demasiados intentos
problem-too-many-requests-detail = Demasiados inicios de sesión fallidos. Intente de nuevo en { $seconds } segundos.
problem-login-failed = Inicio de sesión fallido
problem-login-failed-detail = El nombre de usuario o la contraseña son incorrectos, o la cuenta está desactivada.
problem-internal = Error interno
problem-internal-detail = Algo salió mal en este nodo. Indique la solicitud { $request_id } a su administrador.
problem-method-not-allowed = Método no permitido
problem-method-not-allowed-detail = Esta ruta no acepta ese método; consulte el encabezado Allow.

# Errores de campo
field-missing = Este campo es obligatorio.
field-wrong-type = Tipo incorrecto: se esperaba { $expected }.
field-unknown-field = Campo desconocido.
field-unknown-area = Área de medidas desconocida.
field-unknown-party = Parte desconocida: use un código ISO 3166-1 alfa-2 como US o MX.
field-unknown-indicator = Indicador desconocido.
field-unknown-commitment = Compromiso desconocido.
field-due-before-start = La fecha límite es anterior a la fecha de inicio.
field-missing-language = Falta el texto en { $lang ->
    [es] español
   *[en] inglés
}.
field-unknown-language = Etiqueta de idioma desconocida: use en o es.
field-too-long = Demasiado largo: { $max } como máximo.
field-empty = Este campo no puede estar vacío.
field-invalid-format = Formato no válido: se esperaba { $expected }.
field-out-of-range = Valor fuera de rango.
field-duplicate = Valor duplicado.
field-immutable = Este campo no se puede cambiar.
field-mismatch = No coincide con lo registrado.
field-contradictory = Este valor contradice otro campo del mismo elemento.
field-end-not-after-start = El final debe ser posterior al inicio.
field-incomplete = Datos insuficientes para identificarlo: indique al menos los campos que exige su tipo.

# Nombres de tipos esperados
type-string = texto
type-number = un número
type-integer = un número entero
type-boolean = true o false
type-object = un objeto
type-array = una lista
type-date = una fecha (AAAA-MM-DD)
type-period = un periodo (2025, 2025Q3 o 2025-09)
type-period-same-kind = un periodo del mismo tipo que las demás mediciones del indicador
type-uuid = un identificador (UUID)
type-role = un rol
type-direction = higher-is-better o lower-is-better
type-status = not-started, on-track, at-risk, overdue o done
type-indicator-code = mayúsculas, dígitos y guiones
type-cursor = un cursor de una página anterior
type-language = en o es
type-user-name = minúsculas, dígitos, ".", "_" o "-" (64 como máximo)
type-text = texto sin caracteres de control
type-plate = una placa (letras, dígitos, espacios, guiones y puntos; 16 como máximo)
type-imo-number = un número IMO (siete dígitos con dígito de control válido)
type-mmsi = un MMSI (nueve dígitos)
type-firearm = un arma de fuego
type-vehicle = un vehículo
type-person = una persona

# Tipos de registro
kind-commitment = compromiso
kind-action = acción
kind-indicator = indicador
kind-measurement = medición
kind-meeting = reunión
kind-user = usuario
kind-route = página
kind-follow-up = seguimiento
kind-node = nodo
kind-token = token
kind-session = sesión
kind-audit = entrada de auditoría
kind-program = programa
kind-me = usuario

problem-step-refused = Paso no posible
problem-step-refused-detail = Este paso no corresponde al estado del elemento: { $reason }
problem-exchange-unavailable = Intercambio no disponible
problem-exchange-unavailable-detail = Este nodo funciona sin su intercambio con pares; consulte a su administrador.
step-wrong-party = su parte no puede dar este paso sobre este elemento.
step-already-done = ya se dio.
step-out-of-order = no puede darse en este momento de la vida del elemento.
step-invalid = su contenido no es válido.
field-unknown-peer = Ningún par de esta parte está registrado en este nodo.
kind-referral = remisión
kind-request = solicitud de información
kind-peer = par
kind-reciprocity = cifras de reciprocidad
kind-item = elemento
type-date-time = una fecha y hora (RFC 3339, p. ej. 2026-11-25T14:00:00Z)
type-entity-type = person, organization, vehicle, vessel, firearm, account o location
type-referral-kind = arms-trafficking, drug-shipment, human-smuggling, clandestine-tunnel, fuel-theft, illicit-financial-flow, wanted-person-located u other
type-request-kind = firearm-trace, person-check, vehicle-plate u other
type-urgency = flash, immediate, priority o routine
type-tlp = un nivel TLP 2.0: clear, green, amber, amber-strict o red
type-source-reliability = A, B, C o X
type-information-credibility = 1, 2, 3 o 4
type-result-kind = seizure, arrest o interdiction
type-outcome-kind = acted, no-trace o declined
type-answer-kind = found, not-found o declined
type-referral-step = un paso de remisión
type-request-step = un paso de solicitud
type-flow-direction = outbound (enviados) o inbound (recibidos)
type-party = un código de parte ISO 3166-1 alfa-2, como US o MX
kind-receipt = acuse de recibo
kind-log = registro de intercambio
kind-log-entry = entrada del registro de intercambio
kind-checkpoint = punto de control
kind-envelope = sobre
kind-dispute = controversia
