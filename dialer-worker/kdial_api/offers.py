"""What an agent sees of the call offered to them (pure): the contact fields its ContactList
lists for display, each masked as the list says; the phone number always, Partial unless the
list says otherwise."""

from __future__ import annotations

from kdial.api.contactlist import ContactListSpec, DisplayField, Mask
from kdial.privacy import OPAQUE, mask_number
from kdial.state.contact import Contact, FieldValue

__all__ = ["shown"]


def shown(contact: Contact, spec: ContactListSpec | None) -> dict[str, FieldValue]:
    """The fields of `contact` an agent sees, in the list's display order; with no readable
    list spec (`None`), the number alone, Partial."""
    phone = spec.phone_field if spec is not None else "phone"
    display = list(spec.display) if spec is not None else []
    if all(d.name != phone for d in display):
        display.insert(0, DisplayField(name=phone))
    out: dict[str, FieldValue] = {}
    for item in display:
        value = contact.number if item.name == phone else contact.fields.get(item.name)
        if value is not None:
            out[item.name] = _masked(value, item.mask or _default(item.name == phone))
    return out


def _default(is_phone: bool) -> Mask:
    return Mask.PARTIAL if is_phone else Mask.CLEAR


def _masked(value: FieldValue, mask: Mask) -> FieldValue:
    if mask is Mask.CLEAR:
        return value
    if mask is Mask.PARTIAL:
        return mask_number(str(value))
    return OPAQUE
